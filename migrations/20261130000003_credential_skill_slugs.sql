-- Skills are slugs of a-z, 0-9, '_' and '-' (as the API validates them and as
-- caregivers.skills holds them); the credentials table refused the hyphen.
alter table caregiver_credentials
    drop constraint caregiver_credentials_skill_check,
    add constraint caregiver_credentials_skill_check check (skill ~ '^[a-z0-9_-]{1,64}$');
