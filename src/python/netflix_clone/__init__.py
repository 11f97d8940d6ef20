"""Backend of a video-streaming platform: analytics, video processing, recommendations, deploy tooling."""
