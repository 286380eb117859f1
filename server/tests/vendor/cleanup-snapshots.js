// Copied verbatim from the vendor document (../shared/reference/snapshots-doc.txt).
// The test harness only replaces the host (and the example container id) before running it.
// Delete snapshots older than 30 days (except permanent ones)
async function cleanupSnapshots(containerId) {
const token = process.env.HOODY_TOKEN;
const headers = { 'Authorization': `Bearer ${token}` };
// Get all snapshots
const response = await fetch(
`https://api.hoody.icu/api/v1/containers/${containerId}/snapshots`,
{ headers }
);
const { snapshots } = await response.json().then(r => r.data);
// Find old, non-permanent snapshots
const thirtyDaysAgo = Date.now() - (30 * 24 * 60 * 60 * 1000);
for (const snapshot of snapshots) {
const createdTime = new Date(snapshot.created_at).getTime();
const isPermanent = snapshot.expires_at === null;
if (!isPermanent && createdTime < thirtyDaysAgo) {
await fetch(
`https://api.hoody.icu/api/v1/containers/${containerId}/snapshots/${snapshot.name}`,
{ method: 'DELETE', headers }
);
console.log(`Deleted old snapshot: ${snapshot.alias || snapshot.name}`);
}
}
}
