export { startSimulator, type Simulator, type StartSimulatorOptions } from './server.js'
export { SimAdmin, type SimAppView, type SimFaultView } from './admin/client.js'
export type * from './types.js'
