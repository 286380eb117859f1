// Copied verbatim from the vendor document (../shared/reference/snapshots-doc.txt).
// The test harness only replaces the host (and the example container id) before running it.
async function deployWithSafety(containerId, deployScript) {
const token = process.env.HOODY_TOKEN;
const headers = { 'Authorization': `Bearer ${token}`, 'Content-Type': 'application/json' };
// 1. Pre-deploy snapshot
const snapshot = await fetch(
`https://api.hoody.icu/api/v1/containers/${containerId}/snapshots`,
{
method: 'POST',
headers,
body: JSON.stringify({
alias: `pre-deploy-${Date.now()}`,
expiry: 7
})
}
).then(r => r.json());
try {
// 2. Execute deployment
await deployScript();
// 3. Health check
const health = await checkHealth(containerId);
if (!health.ok) {
throw new Error('Health check failed');
}
// 4. Success - create "deployed" snapshot
await fetch(
`https://api.hoody.icu/api/v1/containers/${containerId}/snapshots`,
{
method: 'POST',
headers,
body: JSON.stringify({
alias: `deployed-${Date.now()}`,
expiry: 30
})
}
);
return { success: true };
} catch (error) {
// 5. Failure - restore snapshot
console.error('Deployment failed, rolling back...', error);
await fetch(
`https://api.hoody.icu/api/v1/containers/${containerId}/snapshots/${snapshot.data.snapshot.name}`,
{ method: 'PATCH', headers }
);
return { success: false, error, rolledBack: true };
}
}
