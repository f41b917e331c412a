"""deploy/k8s rendered with kustomize (base and production overlay), every core object
validated against the Kubernetes schemas, and every reference between objects, settings and
operators' resources checked. No cluster needed."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import kubernetes_validate
import pytest

from graceperiod.contracts.identities import BrokerIdentity
from graceperiod.devstack.local.config_reference import COMPONENTS, is_external, variables_by_component
from graceperiod.runtime.broker_definitions import PASSWORD_VARIABLES
from tests.deploy.conftest import DEPLOY, ROOT, Manifest, render

OVERLAYS = ("base", "overlays/production")
#: Kubernetes version the manifests are validated for (the oldest the docs support).
KUBERNETES_VERSION = "1.30"
SERVICES = ("gateway", "revocation", "notifier", "cooldown")
WORKERS = ("revocation", "notifier", "cooldown")
OPERATOR_KINDS = {("rabbitmq.com/v1beta1", "RabbitmqCluster"), ("mongodbcommunity.mongodb.com/v1", "MongoDBCommunity")}
PLACEHOLDER = "REPLACE_ME"


def objects(overlay: str, kind: str) -> list[Manifest]:
    return [doc for doc in render(overlay) if doc["kind"] == kind]


def named(overlay: str, kind: str, name: str) -> Manifest:
    [found] = [doc for doc in objects(overlay, kind) if doc["metadata"]["name"] == name]
    return found


def pod_specs(overlay: str) -> Iterator[tuple[str, Manifest]]:
    for deployment in objects(overlay, "Deployment"):
        yield deployment["metadata"]["name"], deployment["spec"]["template"]["spec"]
    for cronjob in objects(overlay, "CronJob"):
        yield cronjob["metadata"]["name"], cronjob["spec"]["jobTemplate"]["spec"]["template"]["spec"]


def job_specs(overlay: str) -> Iterator[tuple[str, Manifest]]:
    for job in objects(overlay, "Job"):
        yield job["metadata"]["name"], job["spec"]["template"]["spec"]


def operator_secrets(overlay: str) -> dict[str, set[str]]:
    """Secrets the operators create from their resources, and the keys Grace Period reads."""
    made: dict[str, set[str]] = {}
    for cluster in objects(overlay, "RabbitmqCluster"):
        made[f"{cluster['metadata']['name']}-default-user"] = {"connection_string", "username", "password"}
    for replica_set in objects(overlay, "MongoDBCommunity"):
        for user in replica_set["spec"]["users"]:
            made[user["connectionStringSecretName"]] = {"connectionString.standard"}
    return made


def placeholder_secrets() -> dict[str, set[str]]:
    return {doc["metadata"]["name"]: set(doc["stringData"]) for doc in objects("base", "Secret")}


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_core_object_is_valid_for_kubernetes(overlay: str) -> None:
    checked = 0
    for doc in render(overlay):
        if (doc["apiVersion"], doc["kind"]) in OPERATOR_KINDS:
            continue
        kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)
        checked += 1
    assert checked >= 20


def test_the_validator_catches_a_misspelt_field() -> None:
    deployment = copy.deepcopy(named("overlays/production", "Deployment", "graceperiod-revocation"))
    deployment["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]["httpGet"]["paht"] = "/ready"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, KUBERNETES_VERSION, strict=True)


@pytest.mark.parametrize("overlay", OVERLAYS)
@pytest.mark.parametrize("service", SERVICES)
def test_each_service_has_probes_resources_a_service_and_a_disruption_budget(overlay: str, service: str) -> None:
    name = f"graceperiod-{service}"
    deployment = named(overlay, "Deployment", name)
    pod = deployment["spec"]["template"]
    labels = pod["metadata"]["labels"]
    [container] = pod["spec"]["containers"]
    assert container["image"].split(":")[0] == f"graceperiod/{service}"
    http_port = COMPONENTS[service]().http_port
    assert container["ports"] == [{"name": "http", "containerPort": http_port, "protocol": "TCP"}]
    assert container["livenessProbe"]["httpGet"] == {"path": "/health", "port": "http"}
    assert container["startupProbe"]["httpGet"] == {"path": "/health", "port": "http"}
    assert container["readinessProbe"]["httpGet"] == {"path": "/ready", "port": "http"}
    for kind in ("requests", "limits"):
        assert set(container["resources"][kind]) == {"cpu", "memory"}
    assert pod["spec"]["securityContext"]["runAsNonRoot"] is True
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    service_object = named(overlay, "Service", name)
    assert service_object["spec"]["selector"].items() <= labels.items()
    assert service_object["spec"]["ports"][0]["targetPort"] == "http"
    budget = named(overlay, "PodDisruptionBudget", name)
    assert budget["spec"]["selector"]["matchLabels"].items() <= labels.items()
    assert deployment["spec"]["selector"]["matchLabels"].items() <= labels.items()
    account = named(overlay, "ServiceAccount", pod["spec"]["serviceAccountName"])
    assert account["metadata"]["name"] == name


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_workers_autoscale_and_the_gateway_has_fixed_replicas(overlay: str) -> None:
    autoscalers = {hpa["spec"]["scaleTargetRef"]["name"]: hpa for hpa in objects(overlay, "HorizontalPodAutoscaler")}
    assert set(autoscalers) == {f"graceperiod-{w}" for w in WORKERS}
    for target, hpa in autoscalers.items():
        deployment = named(overlay, "Deployment", target)
        assert "replicas" not in deployment["spec"], "the HPA owns the replica count"
        assert hpa["spec"]["metrics"][0]["resource"]["name"] == "cpu"
        if overlay != "base":
            assert hpa["spec"]["minReplicas"] >= 2
    assert named(overlay, "Deployment", "graceperiod-gateway")["spec"]["replicas"] >= 2


def _environment(overlay: str, pod: Manifest) -> dict[str, Any]:
    """Every variable a pod's container gets: env entries and configMap envFrom keys."""
    config_maps = {cm["metadata"]["name"]: cm.get("data", {}) for cm in objects(overlay, "ConfigMap")}
    [container] = pod["containers"]
    variables: dict[str, Any] = {}
    for source in container.get("envFrom", []):
        name = source["configMapRef"]["name"]
        assert name in config_maps, f"missing ConfigMap {name}"
        variables.update(config_maps[name])
    for entry in container.get("env", []):
        variables[entry["name"]] = entry.get("value", entry.get("valueFrom"))
    return variables


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_variable_exists_every_required_one_is_set_and_each_service_uses_its_own_database(
    overlay: str,
) -> None:
    known = variables_by_component()
    users = {
        user["connectionStringSecretName"]: user
        for replica_set in objects(overlay, "MongoDBCommunity")
        for user in replica_set["spec"]["users"]
    }
    for name, pod in pod_specs(overlay):
        component = name.removeprefix("graceperiod-")
        environment = _environment(overlay, pod)
        unknown = [v for v in environment if v not in known[component] and not is_external(v)]
        assert not unknown, f"{name} sets variables {component} does not read: {unknown}"
        missing = [v for v, field in known[component].items() if field.is_required() and v not in environment]
        assert not missing, f"{name} lacks required {missing}"
        assert environment["AMQP_URL"]["secretKeyRef"]["key"] == "connection_string"
        if component in SERVICES:
            secret = environment["MONGODB_URL"]["secretKeyRef"]
            user = users[secret["name"]]
            database = COMPONENTS[component]().mongodb_database
            assert user["roles"] == [{"name": "readWrite", "db": database}], f"{name} must own only {database}"
    notifier = _environment(overlay, named(overlay, "Deployment", "graceperiod-notifier")["spec"]["template"]["spec"])
    assert notifier["SMTP_URL"]["secretKeyRef"] == {"name": "graceperiod-notifier-smtp", "key": "url"}


def _secret_references(overlay: str) -> list[tuple[str, str | None]]:
    found: list[tuple[str, str | None]] = []
    for _, pod in [*pod_specs(overlay), *job_specs(overlay)]:
        for container in pod["containers"]:
            found.extend(
                (e["valueFrom"]["secretKeyRef"]["name"], e["valueFrom"]["secretKeyRef"]["key"])
                for e in container.get("env", [])
                if "secretKeyRef" in e.get("valueFrom", {})
            )
        found.extend((v["secret"]["secretName"], None) for v in pod.get("volumes", []) if "secret" in v)
    for replica_set in objects(overlay, "MongoDBCommunity"):
        found.extend(
            (user["passwordSecretRef"]["name"], user["passwordSecretRef"]["key"])
            for user in replica_set["spec"]["users"]
        )
    return found


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_secret_reference_resolves(overlay: str) -> None:
    available = operator_secrets(overlay)
    rendered = {doc["metadata"]["name"]: set(doc.get("stringData", {})) for doc in objects(overlay, "Secret")}
    if overlay == "base":
        available |= rendered
    else:
        assert rendered == {}, "production must not ship placeholder Secrets"
        available |= placeholder_secrets()  # created out of band, with the same names and keys
    for name, key in _secret_references(overlay):
        assert name in available, f"{overlay}: nothing provides Secret {name}"
        if key is not None:
            assert key in available[name], f"{overlay}: Secret {name} has no key {key}"


def test_production_has_no_placeholders_local_tags_or_unnamespaced_objects() -> None:
    rendered = render("overlays/production")
    text = repr(rendered)
    assert PLACEHOLDER not in text
    for _, pod in pod_specs("overlays/production"):
        for container in pod["containers"]:
            tag = container["image"].partition(":")[2]
            assert tag, container["image"]
            assert tag not in {"local", "latest"}, container["image"]
    for doc in rendered:
        if doc["kind"] != "Namespace":
            assert doc["metadata"].get("namespace") == "graceperiod", doc["metadata"]["name"]


def test_the_placeholder_secrets_hold_only_placeholders_and_are_documented() -> None:
    operations = (ROOT / "docs" / "operations.md").read_text()
    for secret in objects("base", "Secret"):
        assert secret["metadata"]["annotations"]["graceperiod.io/placeholder"] == "true"
        assert all(PLACEHOLDER in value for value in secret["stringData"].values())
        assert f"`{secret['metadata']['name']}`" in operations


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_ticker_cronjob_publishes_one_tick_a_minute(overlay: str) -> None:
    [cronjob] = objects(overlay, "CronJob")
    assert cronjob["spec"]["schedule"] == "* * * * *"
    assert cronjob["spec"]["concurrencyPolicy"] == "Forbid"
    [container] = cronjob["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"]
    assert container["command"] == ["graceperiod-ticker", "--once"]
    assert container["image"].split(":")[0] in {f"graceperiod/{s}" for s in SERVICES}


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_broker_and_database_come_from_their_operators(overlay: str) -> None:
    [rabbit] = objects(overlay, "RabbitmqCluster")
    [mongo] = objects(overlay, "MongoDBCommunity")
    size = 3 if overlay != "base" else 1
    assert rabbit["spec"]["replicas"] == size
    assert mongo["spec"]["members"] == size
    assert mongo["spec"]["type"] == "ReplicaSet"
    assert mongo["spec"]["security"]["authentication"]["modes"] == ["SCRAM"]
    assert {user["name"] for user in mongo["spec"]["users"]} == {f"graceperiod-{s}" for s in SERVICES}
    assert not [doc for doc in render(overlay) if doc["kind"] == "StatefulSet"], "operators run the StatefulSets"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_each_process_connects_as_its_own_broker_identity_made_by_the_definitions_job(overlay: str) -> None:
    own = {
        "gateway": BrokerIdentity.GATEWAY,
        "revocation": BrokerIdentity.REVOCATION,
        "notifier": BrokerIdentity.NOTIFIER,
        "cooldown": BrokerIdentity.COOLDOWN,
        "ticker": BrokerIdentity.SCHEDULER,
    }
    for name, pod in pod_specs(overlay):
        identity = own[name.removeprefix("graceperiod-")]
        environment = _environment(overlay, pod)
        passwords = {v for v in environment if v.endswith("_AMQP_PASSWORD")}
        assert passwords == {PASSWORD_VARIABLES[identity]}, name
        assert environment[PASSWORD_VARIABLES[identity]]["secretKeyRef"]["name"] == "graceperiod-broker-passwords"
    [(_, job)] = list(job_specs(overlay))
    environment = _environment(overlay, job)
    assert {v for v in environment if v.endswith("_AMQP_PASSWORD")} == set(PASSWORD_VARIABLES.values())
    assert "--passwords-from-env" in job["containers"][0]["command"]


def test_the_overlay_files_are_all_used() -> None:
    overlay = DEPLOY / "k8s" / "overlays" / "production"
    kustomization = (overlay / "kustomization.yaml").read_text()
    for path in overlay.glob("*.yaml"):
        if path.name != "kustomization.yaml":
            assert path.name in kustomization, f"{path.name} is not referenced"
