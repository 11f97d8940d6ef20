"""Pure session logic: per-session metrics, the QoE model and the sessionizer state machine. No I/O."""
