"""The obshell backend: a real cluster driven through its obshell agents (`client.py`)."""
