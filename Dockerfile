# bp_app as a container training job. Build and run from the repository root:
#   docker build -t bp_app:0.1.0 .
#   docker run --init --gpus all --shm-size=2g -v bp-data:/data -v bp-outputs:/outputs bp_app:0.1.0 model=cnn data=mnist
# Arguments after the image name are Hydra overrides, handed to bp-train unchanged.

# CUDA 13.0 base image, to match the CUDA 13.0 build of torch 2.14.1 (constraints.txt). The
# "base" flavour is enough: the torch wheels bring cuDNN, cuBLAS and NCCL as pip packages.
FROM nvidia/cuda:13.0.2-base-ubuntu24.04

# Build-time only: apt asks no questions. (An ARG, so it does not linger in the running image.)
ARG DEBIAN_FRONTEND=noninteractive
ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:$PATH

# Ubuntu 24.04's Python 3.12 and venv. The base image's tag already pins the Ubuntu release;
# apt versions are left to it so that security updates of these two packages still apply.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends python3 python3-venv \
    && rm -rf /var/lib/apt/lists/* \
    && python3 -m venv "$VIRTUAL_ENV"

WORKDIR /opt/bp_app

# Dependencies first, from the two files that declare them: this layer (several GB with torch)
# is rebuilt only when pyproject.toml or constraints.txt change, not on every source edit.
COPY pyproject.toml constraints.txt ./
RUN python3 -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" > requirements.txt \
    && pip install --no-cache-dir -c constraints.txt -r requirements.txt \
    && rm requirements.txt

# Then the source, installed without touching the dependencies above.
COPY README.md ./
COPY conf ./conf
COPY bp_app ./bp_app
RUN pip install --no-cache-dir --no-deps .

# Data is read from /data and runs are written to /outputs (conf/paths/default.yaml reads
# these variables). A non-root user owns both, so fresh named volumes are writable. It gets
# UID 1000, the usual first user of a Linux host, so runs written to a bind-mounted host folder
# belong to that user; Ubuntu's image gives 1000 to "ubuntu", which is removed first.
ENV BP_DATA_DIR=/data \
    BP_OUTPUT_DIR=/outputs
RUN if id ubuntu >/dev/null 2>&1; then userdel --remove ubuntu; fi \
    && useradd --create-home --uid 1000 --user-group bp \
    && mkdir -p /data /outputs \
    && chown bp:bp /data /outputs
VOLUME ["/data", "/outputs"]
# Numeric, so that a platform can check that the user is not root without reading /etc/passwd.
USER 1000:1000
WORKDIR /home/bp

# Exec form: no shell in between, so bp-train itself gets docker stop's SIGTERM (it finishes
# the step, saves last.ckpt and exits 143); the same command again resumes (resume=auto).
ENTRYPOINT ["bp-train"]
