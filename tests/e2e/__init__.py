"""End-to-end tests on a real Docker engine (engine and stand-in images: engine.py, images/)."""
