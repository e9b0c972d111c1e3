"""Run a job of the Definitions on the persistent Dagster instance, from the command line.

`python -m logpilot_dagster.jobs.launch bootstrap_job --tags '{...}'` does what a launch from the web UI
does, minus the daemon: the run is recorded in $DAGSTER_HOME, so `make ui` shows it afterwards. (The
`dagster job execute` command does the same but is deprecated in favour of `dg`, which is not installed.)
"""

import argparse
import json
import sys

from dagster import DagsterInstance, JobDefinition, build_reconstructable_job, execute_job


def resolve_job(name: str) -> JobDefinition:
    from logpilot_dagster.definitions import defs

    return defs.resolve_job_def(name)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m logpilot_dagster.jobs.launch")
    parser.add_argument("job")
    parser.add_argument("--tags", default="{}", help="run tags as a JSON object (e.g. a partition range)")
    args = parser.parse_args(argv)
    job = build_reconstructable_job(__name__, "resolve_job", reconstructable_args=(args.job,))
    with DagsterInstance.get() as instance:
        result = execute_job(job, instance=instance, tags=json.loads(args.tags))
    print(f"run {result.run_id}: {'SUCCESS' if result.success else 'FAILURE'}")
    return 0 if result.success else 1


if __name__ == "__main__":
    sys.exit(main())
