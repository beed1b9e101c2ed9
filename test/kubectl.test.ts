// The acceptance suite with the kubectl on the PATH (the dispatcher picks 1.32 for our version).
import { kubectlSuite } from './kubectl-suite.js';
kubectlSuite('dispatcher (1.32)');
