//! The front end: what the server does with each request it receives (sans-IO).
