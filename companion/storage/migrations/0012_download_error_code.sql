-- Why a download failed, for programs: 'disk_full', 'file_too_large', 'download_failed'.
ALTER TABLE download_jobs ADD COLUMN error_code TEXT
