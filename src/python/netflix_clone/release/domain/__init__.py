"""Pure release logic: commit parsing, version math, changelog, commit lint, branch protection, workflow checks."""
