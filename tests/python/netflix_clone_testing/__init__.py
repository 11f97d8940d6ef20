"""Test support shared by every service's tests: isolated real backends, local HTTP doubles."""
