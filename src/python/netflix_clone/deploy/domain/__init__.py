"""Pure deploy logic: traffic plans, canary analysis, deploy state."""
