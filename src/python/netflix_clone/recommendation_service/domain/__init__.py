"""Pure recommendation math: interaction matrices, ranking, diversification, metrics, splits. No I/O."""
