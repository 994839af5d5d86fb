//! Media engine: streams, jitter buffer, transcoding, mixing (sans-IO).
