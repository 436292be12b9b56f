#!/usr/bin/env bash
# De-identify a tree on a Slurm cluster: a job array of N tasks, each processing one shard of the
# tree (--shard I/N), all writing into one output tree on a shared file system. The N shards
# together process every file exactly once, and their outputs equal one run's, byte for byte.
#
#   sbatch --array=0-9 examples/slurm-shards.sh /shared/in /shared/anon /shared/conf/rules.json [OPTION...]
#
# OPTIONs go to pfdicom_tagSub as they are (paths in them absolute). Keyed rules (%_hash, %_uid,
# %_dateshift) need the same key in every task: put it beside the rules (mode 0600), in the
# directory the container sees, and add --keyFile /shared/conf/key.
# The array is one contiguous range (0-9 or 1-10; a throttle such as 0-99%20 is fine); shard I of
# N is the task's place in it. To rerun shard 3 of 10 alone (outputs already written are kept):
#
#   SHARDS=10 SHARD_FIRST=0 sbatch --array=3 examples/slurm-shards.sh ...
#
# Each task runs the container image built from the repository's Dockerfile, by default with
# Apptainer from an image file on the shared file system (IMAGE, default pfdicom_tagsub.sif):
#
#   docker build -t pfdicom_tagsub . && docker save pfdicom_tagsub -o pfdicom_tagsub.tar
#   apptainer build /shared/pfdicom_tagsub.sif docker-archive://pfdicom_tagsub.tar
#
# ENGINE=podman or ENGINE=docker runs the image IMAGE with that engine instead, as the caller
# (ENGINE_OPTIONS replaces "--user UID:GID", e.g. "--userns=keep-id --user UID:GID" for rootless
# podman). Each task's --json record goes to its .json file, its messages to its .log file; a task
# that ends with exit 1 (a file failed) names the file in its log.
#
#SBATCH --job-name=pfdicom_tagSub
#SBATCH --array=0-9
#SBATCH --cpus-per-task=1
#SBATCH --mem=1G
#SBATCH --time=04:00:00
#SBATCH --output=pfdicom_tagSub-%A_%a.json
#SBATCH --error=pfdicom_tagSub-%A_%a.log
set -euo pipefail

usage="usage: sbatch --array=0-N $0 INPUT_DIR OUTPUT_DIR RULES_JSON [OPTION...]"
input=$(realpath "${1:?$usage}")
rules=$(realpath "${3:?$usage}")
mkdir -p "${2:?$usage}"
output=$(realpath "$2")
conf=$(dirname "$rules")

# shard I of N: this task's place in the array (or as SHARDS and SHARD_FIRST say, for a rerun)
shards=${SHARDS:-${SLURM_ARRAY_TASK_COUNT:?not a job array task: submit with sbatch --array=0-N}}
shard=$((SLURM_ARRAY_TASK_ID - ${SHARD_FIRST:-$SLURM_ARRAY_TASK_MIN}))/$shards

# the container sees the paths where this script does: the input and the rules' directory read-only
engine=${ENGINE:-apptainer}
case $engine in
  apptainer | singularity)
    run=("$engine" exec --bind "$input:$input:ro" --bind "$output:$output" --bind "$conf:$conf:ro"
      "${IMAGE:-pfdicom_tagsub.sif}") ;;
  *)
    read -ra user <<< "${ENGINE_OPTIONS:---user $(id -u):$(id -g)}"
    run=("$engine" run --rm "${user[@]}" -v "$input:$input:ro" -v "$output:$output" -v "$conf:$conf:ro"
      "${IMAGE:-pfdicom_tagsub}") ;;
esac

exec "${run[@]}" pfdicom_tagSub -I "$input" -O "$output" -F "$rules" --shard "$shard" --json "${@:4}"
