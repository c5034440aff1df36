"""repair_rank: rank candidate repairs of broken Python so the human's fix comes first."""
import setuptools

setuptools.setup(
    name="repair_rank",
    version="0.1.0",
    description="Rank candidate repairs of broken Python code (JAX/Flax).",
    # configs/ (one file per job, at the top of the checkout) also ships inside the package
    # as repair_rank.configs, so the console script finds the job configs in a
    # non-editable install too (repair_rank/cli.py).
    packages=setuptools.find_packages(include=["repair_rank", "repair_rank.*"])
    + ["repair_rank.configs"],
    package_dir={"repair_rank.configs": "configs"},
    package_data={"repair_rank": ["assets/*", "assets/**/*", "serving/page.html"]},
    entry_points={"console_scripts": ["repair-rank = repair_rank.cli:main"]},
    python_requires=">=3.10",
    install_requires=[
        "jax>=0.4.30",
        "flax>=0.10",
        "optax>=0.2.3",
        "orbax-checkpoint>=0.6",
        "numpy>=1.26",
        # TensorFlow itself is deliberately not required: datasets are written as
        # array_record and read back with `as_data_source()`, which needs no TF.
        "tensorflow-datasets>=4.9.7",
        "array_record>=0.5",
        "ml-collections>=0.1.1",
        "absl-py>=2.0",
        "tqdm>=4.60",
        "rapidfuzz>=3.0",
        # tensorflow-datasets imports it but declares it only for Python < 3.9
        # (tensorflow/datasets#11212).
        "importlib_resources",
        "matplotlib>=3.7",  # loss / metric plots written to the workdir
        "tensorboardX>=2.6",  # TensorBoard event files without TensorFlow
        "scipy>=1.10",  # the confidence calibration's fit (ranking/confidence.py)
        "pygls>=2.0,<3",  # the editor server (Language Server Protocol); small, pure Python
    ],
    extras_require={
        # nbclient/nbformat/ipykernel execute notebooks/ in the tests; playwright drives
        # Debian's chromium (apt-get install chromium; no browser download) in tests/test_page.py.
        "test": ["pytest>=8", "nbclient>=0.10", "nbformat>=5.10", "ipykernel>=6.29",
                 "playwright>=1.40"],
        # The data jobs' Apache Beam pipelines (build_data, synthesize; runner="beam", their
        # default; runner="pool" needs none of it). An extra: it adds ~180 MB and pins
        # protobuf < 7 and pyarrow < 26 (BENCHMARKS.md, issue 15).
        "beam": ["apache-beam>=2.60"],
        # psutil: memory figures in launch/benchmarks/load_test_serve.py.
        "dev": ["psutil>=5.9"],
    },
)
