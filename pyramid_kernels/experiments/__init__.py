"""Research protocols and demos built on the library (the paper's evaluation, the ImageNet
protocol, the demos the CLI runs); nothing in the library imports them."""
