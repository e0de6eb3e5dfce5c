"""Device drivers, each behind a small Protocol in `vendd.hw.base`."""
