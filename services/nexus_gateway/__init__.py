"""The WebSocket gateway service."""
