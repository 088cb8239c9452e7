--[[ The 2PC abort of an account: see includes/account.lua. ]]
--@include "includes/account.lua"
return account_cancel(true)
