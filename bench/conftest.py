import os

import torch


def pytest_configure(config):
    torch.set_num_threads(int(os.environ.get("BENCH_THREADS", "2")))
