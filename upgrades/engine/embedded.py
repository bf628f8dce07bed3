def start_embedded_workers():
    """Starts worker threads inside the server process when EMBEDDED_WORKER=1 (the engine work fills this in)."""
