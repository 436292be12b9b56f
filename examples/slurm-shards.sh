#!/usr/bin/env bash
# De-identify a tree on a Slurm cluster: a job array of N tasks, each processing one shard of the
# tree (--shard I/N), all writing into one output tree on a shared file system. The N shards
# together process every file exactly once, and their outputs equal one run's, byte for byte.
#
#   sbatch --array=0-9 examples/slurm-shards.sh /shared/in /shared/anon /shared/rules.json
#
# The array must be one contiguous range (0-9, or 1-10; a throttle such as 0-99%20 is fine).
# Each task runs the container image built from the repository's Dockerfile, by default with
# Apptainer from an image file on the shared file system (IMAGE, default pfdicom_tagsub.sif):
#
#   docker build -t pfdicom_tagsub . && docker save pfdicom_tagsub -o pfdicom_tagsub.tar
#   apptainer build /shared/pfdicom_tagsub.sif docker-archive://pfdicom_tagsub.tar
#
# ENGINE=podman or ENGINE=docker runs the image IMAGE with that engine instead, as the caller
# (ENGINE_OPTIONS replaces "--user UID:GID", e.g. "--userns=keep-id --user UID:GID" for rootless
# podman). Each task's --json record goes to its .json file, its messages to its .log file. A
# task that ends with exit 1 (a file failed, named in its log) can be rerun alone, e.g.
# sbatch --array=3 ...: the outputs already written are kept, not redone.
#
#SBATCH --job-name=pfdicom_tagSub
#SBATCH --array=0-9
#SBATCH --cpus-per-task=1
#SBATCH --mem=1G
#SBATCH --time=04:00:00
#SBATCH --output=pfdicom_tagSub-%A_%a.json
#SBATCH --error=pfdicom_tagSub-%A_%a.log
set -euo pipefail

usage="usage: sbatch --array=0-N $0 INPUT_DIR OUTPUT_DIR RULES_JSON"
input=$(realpath "${1:?$usage}")
rules=$(realpath "${3:?$usage}")
mkdir -p "${2:?$usage}"
output=$(realpath "$2")

# shard I of N: this task's place in the array, counted from the array's first index
shards=${SLURM_ARRAY_TASK_COUNT:?not a job array task: submit with sbatch --array=0-N}
shard=$((SLURM_ARRAY_TASK_ID - SLURM_ARRAY_TASK_MIN))/$shards

# the container sees the three paths where this script does, the input and the rules read-only
engine=${ENGINE:-apptainer}
case $engine in
  apptainer | singularity)
    run=("$engine" exec --bind "$input:$input:ro" --bind "$output:$output" --bind "$rules:$rules:ro"
      "${IMAGE:-pfdicom_tagsub.sif}") ;;
  *)
    read -ra user <<< "${ENGINE_OPTIONS:---user $(id -u):$(id -g)}"
    run=("$engine" run --rm "${user[@]}" -v "$input:$input:ro" -v "$output:$output" -v "$rules:$rules:ro"
      "${IMAGE:-pfdicom_tagsub}") ;;
esac

exec "${run[@]}" pfdicom_tagSub -I "$input" -O "$output" -F "$rules" --shard "$shard" --json
