// Copied verbatim from the vendor document (../shared/reference/snapshots-doc.txt).
// The test harness only replaces the host (and the example container id) before running it.
// Automated snapshot script (run via cron)
async function dailyBackup(containerId) {
const token = process.env.HOODY_TOKEN;
const date = new Date().toISOString().split('T')[0];
await fetch(
`https://api.hoody.icu/api/v1/containers/${containerId}/snapshots`,
{
method: 'POST',
headers: {
'Authorization': `Bearer ${token}`,
'Content-Type': 'application/json'
},
body: JSON.stringify({
alias: `daily-backup-${date}`,
expiry: 30 // Keep 30 days of dailies
})
}
);
console.log(`Backup created: daily-backup-${date}`);
}
// Run at 2 AM daily
dailyBackup('890abcdef12345678901cdef');
