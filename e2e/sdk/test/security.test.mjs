// Vulnerability findings through @azure/arm-security (SecurityCenter,
// assessments api-version 2021-06-01, subAssessments 2019-01-01-preview):
// findings imported into a registry's assessment (mlgov's importFindings
// action, what `mlgov security import` sends) read with assessments.get
// and list, subAssessments.list, get and listAll, with the
// ContainerRegistryVulnerability additional data; the built-in "Azure
// registry container images should have vulnerabilities resolved" (read
// from ../shared, defined through @azure/arm-policy) NonCompliant, then
// Compliant after a clean report; a custom assessment written with
// assessments.createOrUpdate; a bad status code refused naming it.

import { describe, test, after } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";

import {
  ARM_SCOPE,
  TEST_TIMEOUT,
  assertDate,
  assertRestError,
  bootstrap,
  collect,
  createResourceGroup,
  credential,
  deleteResourceGroupQuietly,
  eventually,
  insightsClient,
  lro,
  policyClient,
  resourcesClient,
  rgId,
  sameId,
  securityClient,
  uniqueName,
} from "../lib/arm.mjs";

const ACR_ASSESSMENT = "c0b7cfc6-3172-465a-b378-53c7ff2cc0d5";
const BUILTIN = new URL(
  "../../../../shared/peer-cases/azure-policy-builtins/built-in-policies/policyDefinitions/Security Center/MDC_AzureContainerRegistryVulnerabilityAssessment_Audit.json",
  import.meta.url,
);

const IMAGE = "acrsdk.azurecr.io/train/pytorch:2.1";
const FINDINGS = [
  { id: "CVE-2023-4911", package: "libc6", installedVersion: "2.36-9+deb12u1", fixedVersion: "2.36-9+deb12u3", severity: "High", scannerSeverity: "HIGH", title: "glibc: buffer overflow in ld.so" },
  { id: "CVE-2023-5678", package: "openssl", installedVersion: "3.0.11-1~deb12u1", fixedVersion: "3.0.13-1~deb12u1", severity: "Medium", scannerSeverity: "MEDIUM" },
  { id: "CVE-2023-45853", package: "zlib1g", installedVersion: "1:1.2.13.dfsg-1", severity: "High", scannerSeverity: "CRITICAL", link: "https://avd.aquasec.com/nvd/cve-2023-45853" },
];

describe("security assessments (@azure/arm-security)", { timeout: TEST_TIMEOUT * 5 }, () => {
  const b = bootstrap();
  const cred = credential();
  const security = securityClient(cred);
  const policy = policyClient(cred);
  const insights = insightsClient(cred);
  const rg = uniqueName("mlgov-e2e-sec-");
  const defName = uniqueName("acr-vuln-");
  const acrId = () => `${rgId(rg)}/providers/Microsoft.ContainerRegistry/registries/acrsdk`;
  after(async () => {
    await policy.policyAssignments.delete(rgId(rg), "acrvuln").catch(() => {});
    await policy.policyDefinitions.delete(defName).catch(() => {});
    await deleteResourceGroupQuietly(rg);
  });

  // importFindings is mlgov's own action (Azure's Defender scans the
  // images itself): a plain authorized POST.
  async function importFindings(findings) {
    const path = `${acrId()}/providers/Microsoft.Security/assessments/${ACR_ASSESSMENT}`;
    const token = await cred.getToken(ARM_SCOPE);
    const resp = await fetch(`${b.endpoint}${path}/importFindings?api-version=2021-06-01`, {
      method: "POST",
      headers: { Authorization: `Bearer ${token.token}`, "Content-Type": "application/json" },
      body: JSON.stringify({ scanner: "Trivy", image: IMAGE, imageDigest: "sha256:9d2a4f6b", findings }),
    });
    const body = await resp.json();
    assert.equal(resp.status, 200, JSON.stringify(body));
    return body;
  }

  test("findings read as assessments and sub-assessments; the built-in audit follows them", async () => {
    await createResourceGroup(rg);
    await resourcesClient(cred).resources.beginCreateOrUpdateByIdAndWait(acrId(), "2023-07-01", { location: "eastus", properties: {} }, lro);
    const builtin = JSON.parse(readFileSync(BUILTIN, "utf8")).properties;
    const def = await policy.policyDefinitions.createOrUpdate(defName, {
      displayName: "Registry images should have vulnerabilities resolved (e2e copy of the built-in)",
      mode: builtin.mode,
      parameters: builtin.parameters,
      policyRule: builtin.policyRule,
    });
    const a = await policy.policyAssignments.create(rgId(rg), "acrvuln", { policyDefinitionId: def.id });
    const state = async () => (await collect(insights.policyStates.listQueryResultsForResourceGroup("latest", b.subscriptionId, rg, {
      queryOptions: { filter: `policyAssignmentId eq '${a.id}'` },
    }))).find((r) => sameId(r.resourceId, acrId()))?.complianceState;
    await eventually("NonCompliant without an assessment", async () => (await state()) === "NonCompliant");

    // The assessment, as a custom assessment the SDK writes.
    const created = await security.assessments.createOrUpdate(acrId(), ACR_ASSESSMENT, {
      resourceDetails: { source: "Azure" },
      status: { code: "Healthy" },
      metadata: { displayName: "Images should have vulnerabilities resolved", severity: "High", assessmentType: "CustomerManaged" },
    });
    assert.equal(created.status.code, "Healthy");
    assert.ok(sameId(created.resourceDetails.id, acrId()), JSON.stringify(created.resourceDetails));
    await eventually("Compliant with a Healthy assessment", async () => (await state()) === "Compliant");

    const res = await importFindings(FINDINGS);
    assert.equal(res.status, "Unhealthy");
    assert.equal(res.opened, 3);

    const got = await security.assessments.get(acrId(), ACR_ASSESSMENT);
    assert.equal(got.name, ACR_ASSESSMENT);
    assert.equal(got.type, "Microsoft.Security/assessments");
    assert.equal(got.status.code, "Unhealthy");
    assertDate(got.status.firstEvaluationDate, "status.firstEvaluationDate");
    assertDate(got.status.statusChangeDate, "status.statusChangeDate");
    assert.equal(got.resourceDetails.source, "Azure");
    assert.equal(got.additionalData.unresolvedHigh, "2");

    const listed = await collect(security.assessments.list(rgId(rg)));
    assert.ok(listed.some((x) => sameId(x.id, got.id)), `assessments.list at the resource group: ${listed.map((x) => x.id)}`);
    const atSub = await collect(security.assessments.list(`/subscriptions/${b.subscriptionId}`));
    assert.ok(atSub.some((x) => sameId(x.id, got.id)), "assessments.list at the subscription");

    const subs = await collect(security.subAssessments.list(acrId(), ACR_ASSESSMENT));
    assert.equal(subs.length, 3);
    const zlib = subs.find((s) => s.idPropertiesId === "CVE-2023-45853");
    assert.ok(zlib, JSON.stringify(subs));
    assert.equal(zlib.type, "Microsoft.Security/assessments/subAssessments");
    assert.equal(zlib.status.code, "Unhealthy");
    assert.equal(zlib.status.severity, "High");
    assert.equal(zlib.category, "Vulnerability");
    assertDate(zlib.timeGenerated, "timeGenerated");
    assert.equal(zlib.resourceDetails.source, "Azure");
    assert.equal(zlib.additionalData.assessedResourceType, "ContainerRegistryVulnerability");
    assert.equal(zlib.additionalData.patchable, false);
    assert.equal(zlib.additionalData.repositoryName, "train/pytorch");
    assert.equal(zlib.additionalData.imageDigest, "sha256:9d2a4f6b");
    assert.equal(zlib.additionalData.cve[0].title, "CVE-2023-45853");
    // mlgov's members beyond Azure's model: kept by the deserializer.
    assert.equal(zlib.additionalData.packageName, "zlib1g");
    assert.equal(zlib.additionalData.scannerSeverity, "CRITICAL");
    assert.equal(zlib.additionalData.cve[0].link, "https://avd.aquasec.com/nvd/cve-2023-45853");

    const one = await security.subAssessments.get(acrId(), ACR_ASSESSMENT, zlib.name);
    assert.equal(one.idPropertiesId, "CVE-2023-45853");
    const all = await collect(security.subAssessments.listAll(rgId(rg)));
    assert.equal(all.length, 3, `subAssessments.listAll at the resource group: ${all.map((x) => x.id)}`);
    await eventually("NonCompliant with findings", async () => (await state()) === "NonCompliant");

    // A clean report: resolved, not deleted; Compliant again.
    const clean = await importFindings([]);
    assert.equal(clean.status, "Healthy");
    assert.equal(clean.resolved, 3);
    const after = await collect(security.subAssessments.list(acrId(), ACR_ASSESSMENT));
    assert.equal(after.length, 3);
    for (const s of after) assert.equal(s.status.code, "Healthy", `${s.idPropertiesId} after the clean report`);
    assert.equal((await security.assessments.get(acrId(), ACR_ASSESSMENT)).status.code, "Healthy");
    await eventually("Compliant after the clean report", async () => (await state()) === "Compliant");
  });

  test("a bad status code is refused naming it; a missing assessment is 404", async () => {
    await assert.rejects(
      security.assessments.createOrUpdate(acrId(), "custom-bad", { resourceDetails: { source: "Azure" }, status: { code: "Broken" } }),
      (e) => e.statusCode === 400 && e.code === "InvalidRequestContent" && /status\.code/.test(e.message),
    );
    await assertRestError(security.assessments.get(acrId(), "no-such-assessment"), 404);
  });
});
