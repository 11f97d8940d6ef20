"""analytics-consumer's test and load tools: the player simulator and the crash check (not in its image)."""
