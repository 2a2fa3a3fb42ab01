import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatOutput } from './output.js';
import { aksVersionsTable, graphApplicationTable } from './table-formats.js';

// What az 2.91 prints for the same input: its own transformer and knack's table output, run on it
// (azure.cli.command_modules.acs._format.aks_versions_table_format, knack.output._TableOutput().dump).

describe("az's table transformers", () => {
  it('aks get-versions: a preview release gets an IsPreview column, upgrades sorted as versions, rows newest first', () => {
    const result = {
      values: [
        {
          version: '1.30',
          capabilities: { supportPlan: ['KubernetesOfficial', 'AKSLongTermSupport'] },
          patchVersions: { '1.30.9': { upgrades: ['1.31.1', '1.30.10'] }, '1.30.10': { upgrades: ['1.31.1'] } },
        },
        {
          version: '1.31',
          isPreview: true,
          capabilities: { supportPlan: ['KubernetesOfficial'] },
          patchVersions: { '1.31.1': { upgrades: [] } },
        },
      ],
    };
    assert.equal(
      formatOutput(aksVersionsTable(result), 'table'),
      'KubernetesVersion    IsPreview    Upgrades         SupportPlan\n' +
        '-------------------  -----------  ---------------  --------------------------------------\n' +
        '1.31.1               True         None available   KubernetesOfficial\n' +
        '1.30.10                           1.31.1           KubernetesOfficial, AKSLongTermSupport\n' +
        '1.30.9                            1.30.10, 1.31.1  KubernetesOfficial, AKSLongTermSupport\n',
    );
  });

  it('ad app list: sorted by display name in code-point order, the Graph id shown', () => {
    const rows = graphApplicationTable([
      { displayName: 'beta', id: 'b', appId: 'B', createdDateTime: null },
      { displayName: 'Zeta', id: 'z', appId: 'Z', createdDateTime: '2026-01-01T00:00:00Z' },
    ]);
    assert.equal(
      formatOutput(rows, 'table'),
      'DisplayName    Id    AppId    CreatedDateTime\n' +
        '-------------  ----  -------  --------------------\n' +
        'Zeta           z     Z        2026-01-01T00:00:00Z\n' +
        'beta           b     B\n',
    );
  });
});
