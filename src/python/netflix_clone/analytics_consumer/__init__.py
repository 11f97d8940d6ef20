"""analytics-consumer: player events -> sessions -> Quality of Experience, without loss or double counting."""
