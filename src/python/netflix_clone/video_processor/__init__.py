"""video-processor: uploads to per-title adaptive-bitrate HLS ladders with thumbnails and quality reports."""
