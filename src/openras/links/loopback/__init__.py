"""The loopback device: a real link process with scripted phases and faults."""
