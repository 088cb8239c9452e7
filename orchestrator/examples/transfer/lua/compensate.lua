--[[ The saga compensate of an account: see includes/account.lua. ]]
--@include "includes/account.lua"
return account_cancel(false)
