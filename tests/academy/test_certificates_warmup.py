"""Workers load the certificate fonts when they start, without touching the database."""

import pytest
from celery.signals import worker_process_init

from academy import certificates, tasks


@pytest.mark.django_db
def test_warm_up_renders_a_certificate_without_queries(django_assert_num_queries):
    with django_assert_num_queries(0):
        certificates.warm_up()


def test_warm_up_runs_when_a_worker_process_starts(monkeypatch):
    calls = []
    monkeypatch.setattr(certificates, "warm_up", lambda: calls.append(1))
    worker_process_init.send(sender=None)
    assert calls == [1]
    assert callable(tasks._warm_up_certificates)
