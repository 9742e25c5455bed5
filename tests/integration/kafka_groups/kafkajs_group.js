// kafkajs (a third implementation of the Kafka protocol) against
// sluice-broker: a producer sends 30 messages to a new 2-partition topic,
// a consumer group reads them all from the beginning and commits, and the
// group's committed offsets (OffsetFetch through kafkajs' admin client)
// end at the end of each partition. A second consumer of the same group
// started after one more message was produced gets just that one: it
// resumes where the first committed. Prints PASS/FAIL lines.
//
// Usage: node kafkajs_group.js KAFKA_PORT (NODE_PATH names kafkajs)
'use strict';
const { Kafka, logLevel } = require('kafkajs');

const port = process.argv[2];
const kafka = new Kafka({
  clientId: 'sluice-test',
  brokers: [`127.0.0.1:${port}`],
  logLevel: logLevel.NOTHING,
  retry: { retries: 8 },
});
const topic = 'kjs';
const group = 'kjs-group';
const N = 30;
let failed = 0;

function check(name, ok, detail) {
  if (ok) {
    console.log(`PASS ${name}`);
  } else {
    console.log(`FAIL ${name}: ${detail}`);
    failed = 1;
  }
}

// Runs one consumer of the group until `want` distinct messages arrived
// (or `idleMs` passed without any, for the "nothing more" case).
async function consume(want, idleMs) {
  const consumer = kafka.consumer({ groupId: group, sessionTimeout: 10000 });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  const seen = new Set();
  let resolve;
  const finished = new Promise((r) => { resolve = r; });
  let idle = setTimeout(() => resolve(), idleMs);
  await consumer.run({
    autoCommit: true,
    eachMessage: async ({ message }) => {
      seen.add(message.value.toString());
      if (seen.size >= want) resolve();
    },
  });
  await finished;
  clearTimeout(idle);
  await consumer.disconnect(); // Commits what was consumed, then leaves.
  return seen;
}

async function main() {
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic, numPartitions: 2 }] });
  const producer = kafka.producer();
  await producer.connect();
  const sent = [];
  for (let i = 0; i < N; i++) sent.push({ key: `k${i}`, value: `v${i}`, partition: i % 2 });
  await producer.send({ topic, messages: sent });
  await producer.disconnect();

  // The first consumer must see all N; give it up to two minutes before
  // calling it a hang.
  const seen = await consume(N, 120000);
  const missing = sent.filter((m) => !seen.has(m.value));
  check('kafka_groups_kafkajs_consumer_group_reads_all', missing.length === 0,
    `${missing.length} of ${N} messages not consumed`);

  const offs = await admin.fetchOffsets({ groupId: group, topics: [topic] });
  const parts = offs.length ? offs[0].partitions : [];
  const byPart = {};
  for (const p of parts) byPart[p.partition] = p.offset;
  check('kafka_groups_kafkajs_commits_fetched_back',
    byPart[0] === String(N / 2) && byPart[1] === String(N / 2),
    `committed ${JSON.stringify(byPart)}, expected ${N / 2} each`);

  // Resuming: one more message, and a new consumer of the group gets it
  // first; anything consumed before the commit would come before it.
  const p2 = kafka.producer();
  await p2.connect();
  await p2.send({ topic, messages: [{ value: 'after', partition: 0 }] });
  await p2.disconnect();
  const again = await consume(1, 120000);
  check('kafka_groups_kafkajs_resumes_at_commit',
    again.size === 1 && again.has('after'),
    `the second consumer got ${JSON.stringify([...again].slice(0, 5))}`);
  await admin.disconnect();
}

main().then(() => process.exit(failed), (e) => {
  console.log(`FAIL kafka_groups_kafkajs: ${e && e.stack ? e.stack : e}`);
  process.exit(1);
});
