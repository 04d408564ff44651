"""digitcam's live tool: capture -> detect -> normalise -> classify -> track -> draw (`python -m realtime.cam`)."""
