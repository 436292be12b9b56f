# pfdicom_tagSub as a one-shot container, for pipelines and for ChRIS.
#
#   docker build -t pfdicom_tagsub .
#   mkdir -p out && docker run --rm --user "$(id -u):$(id -g)" \
#       -v "$PWD/in:/incoming:ro" -v "$PWD/out:/outgoing" \
#       pfdicom_tagsub pfdicom_tagSub -I /incoming -O /outgoing -F /incoming/rules.json
#   docker run ... pfdicom_tagsub pfdicom_tagSub [options] /incoming /outgoing      # the ChRIS form
#
# BASE lets a local image stand in for python:3.12-slim on a machine without a registry:
#   podman build --pull=never --build-arg BASE=localhost/python-slim-standin:bookworm -t pfdicom_tagsub .
# The image holds no build tools and no pip cache; it runs as a non-root user (uid 1001) unless
# --user says otherwise (see README.rst, "Container").
ARG BASE=python:3.12-slim

# The project as a wheel, built apart so that neither its sources nor setuptools reach the image.
FROM ${BASE} AS wheel
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_ROOT_USER_ACTION=ignore
WORKDIR /src
COPY . .
RUN pip wheel --no-deps --wheel-dir /wheels .

FROM ${BASE}
ENV PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore

# Non-root by default; `--user "$(id -u):$(id -g)"` runs as the caller instead, so that the
# files written to /outgoing belong to whoever ran the container.
RUN useradd --uid 1001 --user-group --no-create-home --home-dir /nonexistent \
        --shell /usr/sbin/nologin pfdicom

# The dependencies first, in a layer that only setup.py invalidates: a code change rebuilds in
# seconds. setup.py is installed with a placeholder package, which is then removed.
COPY setup.py /tmp/deps/
RUN mkdir /tmp/deps/pfdicom_tagSub \
    && echo '__version__ = "0"' > /tmp/deps/pfdicom_tagSub/__init__.py \
    && touch /tmp/deps/README.rst \
    && pip install /tmp/deps \
    && pip uninstall --yes pfdicom_tagSub \
    && rm -rf /tmp/deps

COPY --from=wheel /wheels/ /tmp/wheels/
RUN pip install --no-deps /tmp/wheels/*.whl \
    && rm -rf /tmp/wheels \
    && pfdicom_tagSub --version

USER 1001:1001

CMD ["pfdicom_tagSub", "--help"]
