"""The I/O edges: PyAV probing, the ffmpeg process, thumbnails, publishing, catalog and job queues."""
