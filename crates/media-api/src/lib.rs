//! Commands and events between call signalling and the media engine.
