import { MongoClient, type ObjectId } from 'mongodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/observability/logger.ts';
import { startTrainingWorker, type TrainingWorker } from '../../workers/training-worker.ts';
import { sendSamples } from '../continuous/support.ts';
import { enrolmentPart } from '../continuous/wisdm.ts';
import { TestSocket, login, startNode, type Node } from '../realtime/support.ts';
import { testConfig } from '../support/config.ts';
import { startTestGateway, type TestGateway } from '../support/gateway.ts';
import { holdsString, startMongoCommandCut, type MongoCommandCut, type WireCommand } from './support/mongo-command-cut.ts';

// A socket enrolment whose training succeeded, but the gateway loses MongoDB between reading that
// from the enrolment record and reading the new model (to switch live streams and answer
// enroll.ready). The gateway reaches Mongo through a proxy that cuts right before its first
// model-store read after a reply carrying `status: 'ready'`; the training worker reaches Mongo
// directly, so training ends normally. The client must hear a catalogued enroll.failed, and nothing
// may reject unhandled in this process (where the gateway runs), up to and through its close.
const MODEL_COLLECTIONS = new Set(['models', 'model_versions', 'model_heads']);
const USER = `outage-enrolee-${process.pid}`;
let proxy: MongoCommandCut;
let gw: TestGateway;
let node: Node;
let training: TrainingWorker;
let direct: MongoClient;
const sockets: TestSocket[] = [];
const unhandled: unknown[] = [];
const onUnhandled = (reason: unknown) => unhandled.push(reason);

beforeAll(async () => {
  const base = testConfig();
  const upstream = new URL(base.MONGO_URL);
  proxy = await startMongoCommandCut({ host: upstream.hostname, port: Number(upstream.port || 27017) });
  // Same database and key prefix for the gateway (through the proxy) and the worker (direct).
  const shared = { MONGO_DB: base.MONGO_DB!, REDIS_PREFIX: base.REDIS_PREFIX };
  gw = await startTestGateway({ ...shared, MONGO_URL: proxy.url(base.MONGO_URL), VIGIL_EMBEDDED_WORKERS: 'false' });
  const directConfig = { ...gw.config, MONGO_URL: base.MONGO_URL };
  training = await startTrainingWorker(directConfig, createLogger(process.env.TEST_LOG_LEVEL ?? 'silent'));
  node = await startNode(directConfig);
  direct = await new MongoClient(base.MONGO_URL).connect();
  process.on('unhandledRejection', onUnhandled);
}, 60_000);

afterAll(async () => {
  process.off('unhandledRejection', onUnhandled);
  for (const socket of sockets) socket.close();
  proxy?.restore(); // so the gateway closes cleanly and its data is dropped
  await node?.close();
  await training?.close();
  await gw?.close();
  await direct?.close();
  await proxy?.close();
});

async function connect(): Promise<TestSocket> {
  const socket = new TestSocket(gw.url, { token: (await login(node, USER)).accessToken });
  sockets.push(socket);
  await socket.next('ready');
  return socket;
}

describe('MongoDB lost between a socket enrolment’s training and the read of its model', () => {
  it('answers enroll.failed DEPENDENCY_UNAVAILABLE and leaves no unhandled rejection', async () => {
    const socket = await connect();
    const enrolment = await enrolmentPart('1611');
    socket.sendJson({ type: 'enroll.begin', stream: 7, modality: 'motion', rate: 20, channels: ['x', 'y', 'z'] });
    sendSamples(socket, 7, enrolment, 0, 50);
    socket.sendJson({ type: 'enroll.commit', stream: 7 });
    for (;;) {
      const progress = await socket.until('enroll.progress', 30_000);
      if (progress.stage === 'queued') break;
    }

    let cutAt: WireCommand | undefined;
    const cut = proxy.cutBefore({
      afterReply: (reply) => holdsString(reply, 'status', 'ready'),
      before: (c) => c.collection !== undefined && MODEL_COLLECTIONS.has(c.collection),
    });
    void cut.then((command) => (cutAt = command));
    const failed = await socket.until('enroll.failed', 120_000);
    expect(cutAt, 'the cut fell on a model-store read').toBeDefined();
    expect(failed).toMatchObject({ stream: 7, code: 'DEPENDENCY_UNAVAILABLE' });

    // Training itself succeeded: the record says so (read past the proxy).
    const records = direct
      .db(gw.config.MONGO_DB)
      .collection<{ _id: ObjectId; status: string; modelVersion?: number }>('enrollments');
    const record = await records.findOne({ userId: USER, status: { $ne: 'open' } });
    expect(record).toMatchObject({ status: 'ready', modelVersion: 1 });

    // Closing the gateway ends every read still waiting for Mongo (the record polling, a reload),
    // so whatever the enrolment's followers would reject has rejected once close returns.
    await gw.gateway.close();
    await new Promise((resolve) => setImmediate(resolve));
    expect(unhandled).toEqual([]);
  }, 180_000);
});
