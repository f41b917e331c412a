"""Benchmarks behind ``make bench``: real local servers, a baseline measured in the same run,
ratios quoted against it, results printed and written as JSON under ``var/bench/``."""
