// Creates a compute of a workspace with @azure/arm-machinelearning, as a
// user's script would, in a process of its own (the dashboard's browser
// tests run it to see the compute appear live):
//
//   node bin/create-compute.mjs RESOURCE_GROUP WORKSPACE NAME [disableLocalAuth]
//
// MLGOV_BOOTSTRAP names the server (see lib/arm.mjs).
import { lro, mlClient } from "../lib/arm.mjs";

const [rg, ws, name, disable = "false"] = process.argv.slice(2);
if (!rg || !ws || !name) {
  console.error("usage: create-compute.mjs RESOURCE_GROUP WORKSPACE NAME [disableLocalAuth]");
  process.exit(2);
}
const compute = await mlClient().computeOperations.beginCreateOrUpdateAndWait(
  rg,
  ws,
  name,
  {
    location: "westeurope",
    properties: {
      computeType: "AmlCompute",
      disableLocalAuth: disable === "true",
      properties: { vmSize: "STANDARD_DS3_V2", scaleSettings: { minNodeCount: 0, maxNodeCount: 2 } },
    },
  },
  lro,
);
console.log(JSON.stringify({ id: compute.id, provisioningState: compute.properties?.provisioningState }));
