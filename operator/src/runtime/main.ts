/** `node operator/dist/runtime/main.js`: the operator process (the chart's container command). */
import { operatorConfigFromEnv, runOperator } from './operator';

runOperator(operatorConfigFromEnv()).then(
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
