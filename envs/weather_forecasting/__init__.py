"""ALE/Weather-Forecasting-v0: an operational station forecast pipeline, verified by hindcasts on hidden data."""
