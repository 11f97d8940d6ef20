"""Pure rules of video processing: validation, ladders, per-title hull, playlists, thumbnails, jobs."""
