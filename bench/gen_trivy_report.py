#!/usr/bin/env python3
"""gen_trivy_report.py -- write a realistic Trivy schema-2 JSON report of about SIZE megabytes.

usage: gen_trivy_report.py SIZE_MB OUT.json [SEED]

The shape follows `trivy image -f json` (2-space indentation, Go field order): many
Results (os-pkgs and lang-pkgs), each with Vulnerabilities carrying Layer, DataSource,
CVSS maps, CweIDs, References and a long Description. Severities are spread over all
five Trivy values; a few entries repeat a (Target, ID, package) to exercise duplicates.
Deterministic for a given SEED, so two runs time the same bytes.
"""
import json
import random
import sys

SEVERITIES = ["CRITICAL", "HIGH", "MEDIUM", "MEDIUM", "LOW", "LOW", "LOW", "UNKNOWN"]
WORDS = ("buffer overflow heap use-after-free integer truncation remote attacker crafted "
         "request denial of service memory corruption allows via parsing when handling "
         "certificate validation bypass privilege escalation in the component before").split()


def sentence(rng, n):
    return " ".join(rng.choice(WORDS) for _ in range(n)).capitalize() + "."


def vuln(rng, i):
    year = rng.randint(2014, 2025)
    cve = "CVE-%d-%d" % (year, 1000 + i)
    pkg = "lib%s%d" % (rng.choice(WORDS)[:6], rng.randint(0, 400))
    ver = "%d.%d.%d-r%d" % (rng.randint(0, 9), rng.randint(0, 30), rng.randint(0, 99), rng.randint(0, 9))
    v = {
        "VulnerabilityID": cve,
        "PkgID": pkg + "@" + ver,
        "PkgName": pkg,
        "InstalledVersion": ver,
        "FixedVersion": ver.replace("-r", "-r1") if rng.random() < 0.7 else "",
        "Status": rng.choice(["fixed", "affected", "will_not_fix"]),
        "Layer": {"Digest": "sha256:%064x" % rng.getrandbits(256),
                  "DiffID": "sha256:%064x" % rng.getrandbits(256)},
        "SeveritySource": rng.choice(["nvd", "debian", "ghsa"]),
        "PrimaryURL": "https://avd.aquasec.com/nvd/" + cve.lower(),
        "DataSource": {"ID": "debian", "Name": "Debian Security Tracker",
                       "URL": "https://salsa.debian.org/security-tracker-team/security-tracker"},
        "Title": pkg + ": " + sentence(rng, 8),
        "Description": sentence(rng, rng.randint(30, 90)),
        "Severity": rng.choice(SEVERITIES),
        "CweIDs": ["CWE-%d" % rng.randint(20, 1000)],
        "VendorSeverity": {"nvd": rng.randint(1, 4), "redhat": rng.randint(1, 4)},
        "CVSS": {
            "nvd": {"V2Vector": "AV:N/AC:M/Au:N/C:N/I:N/A:P",
                    "V3Vector": "CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:U/C:N/I:N/A:H",
                    "V2Score": round(rng.uniform(1, 10), 1), "V3Score": round(rng.uniform(1, 10), 1)},
            "redhat": {"V3Vector": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:L/I:L/A:H",
                       "V3Score": round(rng.uniform(1, 10), 1)},
        },
        "References": ["https://security-tracker.debian.org/tracker/" + cve,
                       "https://nvd.nist.gov/vuln/detail/" + cve,
                       "https://ubuntu.com/security/notices/USN-%d-1" % rng.randint(1000, 9999)]
                      + ["https://example.org/advisories/%d" % rng.randint(1, 10 ** 6)
                         for _ in range(rng.randint(0, 6))],
        "PublishedDate": "%d-0%d-1%dT03:15:00Z" % (year, rng.randint(1, 9), rng.randint(0, 9)),
        "LastModifiedDate": "2024-02-11T19:50:00Z",
    }
    return v


def main(argv):
    if len(argv) < 2:
        sys.exit("usage: gen_trivy_report.py SIZE_MB OUT.json [SEED]")
    target = float(argv[0]) * 1e6
    rng = random.Random(int(argv[2]) if len(argv) > 2 else 1)
    results, size, i = [], 0, 0
    while size < target:
        vulns = []
        for _ in range(rng.randint(20, 200)):
            v = vuln(rng, i)
            i += 1
            if vulns and rng.random() < 0.01:
                v = dict(vulns[-1])  # same identity repeated: a duplicate
            vulns.append(v)
            text = json.dumps(v, indent=2)
            size += len(text) + 6 * (text.count("\n") + 1) + 2  # nested 3 levels deeper
        cls = rng.choice(["os-pkgs", "lang-pkgs"])
        results.append({"Target": "app/%d/%s" % (len(results), "package-lock.json" if cls == "lang-pkgs" else "debian 12.5"),
                        "Class": cls, "Type": "npm" if cls == "lang-pkgs" else "debian",
                        "Vulnerabilities": vulns})
    doc = {"SchemaVersion": 2, "CreatedAt": "2025-01-01T00:00:00Z", "ArtifactName": "registry.example/app:1.0",
           "ArtifactType": "container_image",
           "Metadata": {"OS": {"Family": "debian", "Name": "12.5"}, "ImageID": "sha256:%064x" % rng.getrandbits(256),
                        "RepoTags": ["registry.example/app:1.0"]},
           "Results": results}
    with open(argv[1], "w", encoding="utf-8") as fh:
        json.dump(doc, fh, indent=2)


if __name__ == "__main__":
    main(sys.argv[1:])
