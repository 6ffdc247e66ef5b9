"""One task that fails twice and then succeeds: retries=2, retry_delay 1 s."""

import os
from datetime import datetime, timedelta

from airflow import DAG
from airflow.providers.cncf.kubernetes.operators.pod import KubernetesPodOperator

with DAG(
    dag_id="flaky_retry",
    schedule=None,
    start_date=datetime(2024, 1, 1),
    catchup=False,
) as dag:
    KubernetesPodOperator(
        task_id="flaky",
        name="flaky",
        namespace="data-jobs",
        image="bench/flaky",
        cmds=["flaky"],
        arguments=[os.environ["POD_DAG_BENCH_FLAKY_STATE"]],
        retries=2,
        retry_delay=timedelta(seconds=1),
        get_logs=True,
        on_finish_action="delete_pod",
        config_file=os.environ["POD_DAG_BENCH_KUBECONFIG"],
        in_cluster=False,
    )
