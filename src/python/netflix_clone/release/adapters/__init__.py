"""I/O for releases: git, Pants, the GitHub REST API."""
