"""Speed benchmarks: one script per topic (``python -m benchmarks.bench_<topic>``); ``python -m benchmarks`` runs all."""
