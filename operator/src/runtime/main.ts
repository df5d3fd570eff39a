/** `node operator/dist/runtime/main.js`: the operator process (the chart's container command). */
import { applyHeapGrowing, heapGrowingPercent, idleCollection, idleCollectionMs } from './heap';
import { operatorConfigFromEnv, runOperator } from './operator';

const start = () => {
  applyHeapGrowing(heapGrowingPercent(process.env.WARREN_HEAP_GROWING_PERCENT));
  const collection = idleCollection(idleCollectionMs(process.env.WARREN_IDLE_GC_MS));
  return runOperator({ ...operatorConfigFromEnv(), afterReconcile: collection.poke });
};

Promise.resolve()
  .then(start)
  .then(
    (operator) => {
      const shutdown = () => {
        operator.stop().then(
          () => process.exit(0),
          () => process.exit(1),
        );
      };
      process.once('SIGTERM', shutdown);
      process.once('SIGINT', shutdown);
    },
    (error: Error) => {
      process.stderr.write(`warren-operator: ${error.message}\n`);
      process.exit(1);
    },
  );
