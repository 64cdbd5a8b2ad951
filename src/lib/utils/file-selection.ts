import type { UploadSelection } from '$lib/managers/upload-manager.svelte';

/** Files from a file picker (`multiple`): each file is its own upload. */
export function selectionsFromFiles(files: Iterable<File>): UploadSelection[] {
  return Array.from(files, (file) => ({
    name: file.name,
    kind: 'file',
    entries: [{ path: file.name, file }]
  }));
}

/**
 * Files from a folder picker (`webkitdirectory`): grouped by their top folder, each folder one upload whose
 * root is the folder itself (paths keep the folder's name, as `ipfs add -r folder` does).
 */
export function selectionsFromFolder(files: Iterable<File>): UploadSelection[] {
  const folders = new Map<string, UploadSelection>();
  const loose: File[] = [];
  for (const file of files) {
    const path = file.webkitRelativePath || file.name;
    const top = path.includes('/') ? path.slice(0, path.indexOf('/')) : '';
    if (top === '') {
      loose.push(file);
      continue;
    }
    let folder = folders.get(top);
    if (folder === undefined) {
      folder = { name: top, kind: 'folder', entries: [] };
      folders.set(top, folder);
    }
    folder.entries.push({ path, file });
  }
  return [...folders.values(), ...selectionsFromFiles(loose)];
}

function fileOf(entry: FileSystemFileEntry): Promise<File> {
  return new Promise((resolve, reject) => entry.file(resolve, reject));
}

async function readAll(dir: FileSystemDirectoryEntry): Promise<FileSystemEntry[]> {
  const reader = dir.createReader();
  const all: FileSystemEntry[] = [];
  // readEntries answers in pages (100 at a time in Chromium) until it answers with none.
  for (;;) {
    const page = await new Promise<FileSystemEntry[]>((resolve, reject) =>
      reader.readEntries(resolve, reject)
    );
    if (page.length === 0) return all;
    all.push(...page);
  }
}

async function walk(entry: FileSystemEntry, prefix: string, out: UploadSelection['entries']): Promise<void> {
  const path = prefix === '' ? entry.name : `${prefix}/${entry.name}`;
  if (entry.isFile) {
    out.push({ path, file: await fileOf(entry as FileSystemFileEntry) });
  } else if (entry.isDirectory) {
    for (const child of await readAll(entry as FileSystemDirectoryEntry)) await walk(child, path, out);
  }
}

/**
 * What was dropped: files become one upload each, folders one upload each with their whole tree. Reads the
 * entries synchronously (they are only valid during the drop event), then walks folders.
 */
export function selectionsFromDrop(transfer: DataTransfer): Promise<UploadSelection[]> {
  const entries = Array.from(transfer.items)
    .filter((item) => item.kind === 'file')
    .map((item) => ({ entry: item.webkitGetAsEntry(), file: item.getAsFile() }));
  return Promise.all(
    entries.map(async ({ entry, file }): Promise<UploadSelection[]> => {
      if (entry?.isDirectory) {
        const files: UploadSelection['entries'] = [];
        await walk(entry, '', files);
        return [{ name: entry.name, kind: 'folder', entries: files }];
      }
      return file === null ? [] : selectionsFromFiles([file]);
    })
  ).then((lists) => lists.flat());
}
